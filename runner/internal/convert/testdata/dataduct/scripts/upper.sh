#!/bin/sh
# Upper-cases every staged input file into the output directory.
for f in "$INPUT1_STAGING_DIR"/*; do tr 'a-z' 'A-Z' < "$f" > "$OUTPUT1_STAGING_DIR/$(basename "$f")"; done
