#!/bin/sh
# Seeds the fuzz corpora from the hostile fixture corpus and a few header values.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/corpus/front_matter" "$here/corpus/conditional"
find "$here/../hostile/content" -type f | while read -r f; do
    cp "$f" "$here/corpus/front_matter/$(echo "$f" | md5sum | cut -c1-16)"
done
i=0
for v in '"abc123"' 'W/"abc123", "x"' '*' '"unterminated' 'Sun, 06 Nov 1994 08:49:37 GMT' \
         'Sunday, 06-Nov-94 08:49:37 GMT' 'Sun Nov  6 08:49:37 1994' 'gzip;q=0.5, br;q=1.0, *;q=0' \
         'identity;q=0' 'x-gzip, deflate;q=0.001'; do
    printf '\000%s' "$v" > "$here/corpus/conditional/seed$i"; i=$((i+1))
done
