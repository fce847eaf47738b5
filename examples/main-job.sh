#!/bin/sh
# The main job on the embedded default database (a SQLite file in your user data folder):
# load the example suppression list and registry data, then scrub the example lead list,
# print the summary and write leads.scrubbed.csv and leads.report.html here.
#
# The example registry lists are treated as downloaded (or consulted) right now.
# They are a few numbers each: --full-list says they are the whole list on purpose.
set -eu
here=$(dirname "$0")
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
optout() { python3 -m optout "$@"; }

optout suppress import "$here/suppressions.csv"
optout registry import us_dnc "$here/registries/us_dnc_full.txt" --taken-at "$now" --full-list
optout registry import gb_tps "$here/registries/gb_tps.txt" --taken-at "$now" --full-list
optout registry import gb_ctps "$here/registries/gb_ctps.txt" --taken-at "$now" --full-list
optout registry ingest it_rpo "$here/registries/it_rpo_submitted.txt" \
    "$here/registries/it_rpo_returned.txt" --reference EXAMPLE-RPO-1 --checked-at "$now"
optout registry ingest au_dncr "$here/registries/au_dncr_submitted.txt" \
    "$here/registries/au_dncr_returned.csv" --reference EXAMPLE-DNCR-1 --checked-at "$now"
optout registry status
optout scrub "$here/leads.csv" -o leads.scrubbed.csv --country US --report leads.report.html
