#!/usr/bin/env bash
# Refresh the gettext template and catalogs after changing user-facing strings:
#   bash scripts/i18n.sh            extract + update every catalog
# Catalogs are read from the .po files at run time (bot/i18n.py), so no compile step is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=${PYBABEL:-.venv/bin/pybabel}
"$PYBABEL" extract -F pyproject.toml -k _ -k n_:1,2 -k ngettext:1,2 -k N_ \
  --project=charterbot --copyright-holder="charterbot contributors" \
  --no-location --sort-output -o locales/charterbot.pot .
for po in locales/*/LC_MESSAGES/charterbot.po; do
  lang=$(basename "$(dirname "$(dirname "$po")")")
  "$PYBABEL" update --no-fuzzy-matching -D charterbot -i locales/charterbot.pot -d locales -l "$lang"
done
