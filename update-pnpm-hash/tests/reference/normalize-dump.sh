#!/usr/bin/env bash
# Rewrites the `.dump` text of a sqlite3 shell >= 3.50 to the form older shells print, as
# nixpkgs' fetchPnpmDeps does since nixpkgs#538919 ("fix changed hashes due to sqlite bump
# by reverting to old format"; its exact regex was not available here, so this follows the
# two changes the shells show on pnpm 11's index, measured with 3.46.1, 3.40.1 and 3.53.4):
#   - a text value holding a control character is printed `unistr('...\u0009...')` (3.50.0
#     release notes: .dump uses unistr() unless --escape off); the old form is the plain
#     literal with the raw character. Every pnpm 11 index key has one: the TAB between
#     integrity and pkgId. `\\` in unistr() is a backslash.
#   - a blob literal is printed `x'..'`; the old form is `X'..'`.
# Only INSERT lines change: their values are tokenized (quoted strings with '' doubling,
# unistr(...), blobs, numbers, NULL), so text that merely looks like `x'` is left alone. A
# decoded LF or CR would have needed the old shells' replace(...,char(10)) form: refused,
# since no pnpm index holds one. Reads stdin, writes stdout.
set -euo pipefail
exec perl -e '
use strict; use warnings;
binmode STDIN; binmode STDOUT;
sub fail { print STDERR "normalize-dump.sh: line $.: $_[0]\n"; exit 1 }
# A single-quoted SQL literal at the start of $_[0]: (literal text with quotes, rest).
sub take_string {
    my ($s) = @_;
    $s =~ /\A(\x27(?:[^\x27]|\x27\x27)*\x27)(.*)\z/s or fail("unterminated string");
    return ($1, $2);
}
sub unescape {
    my ($lit) = @_;
    $lit =~ s/\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(\\))/
        defined $3 ? "\\" : chr(hex(defined $1 ? $1 : $2))/ge;
    fail("unistr() value with LF or CR: the old form would be replace(), not replayed") if $lit =~ /[\n\r]/;
    return $lit;
}
while (my $line = <STDIN>) {
    if ($line !~ /\A(INSERT INTO \S+ VALUES\()(.*)\z/s) { print $line; next }
    my ($out, $rest) = ($1, $2);
    while (1) {
        if ($rest =~ /\Aunistr\((.*)\z/s) {
            my ($lit, $after) = take_string($1);
            $after =~ s/\A\)// or fail("unistr( without )");
            $out .= unescape($lit); $rest = $after;
        } elsif ($rest =~ /\A\x27/) {
            my ($lit, $after) = take_string($rest);
            $out .= $lit; $rest = $after;
        } elsif ($rest =~ /\A[xX](\x27[0-9a-fA-F]*\x27)(.*)\z/s) {
            $out .= "X$1"; $rest = $2;
        } elsif ($rest =~ /\A([-+0-9.eE]+|NULL)(.*)\z/s) {
            $out .= $1; $rest = $2;
        } else {
            fail("unexpected value: " . substr($rest, 0, 40));
        }
        if ($rest =~ /\A,(.*)\z/s) { $out .= ","; $rest = $1; next }
        last;
    }
    $rest =~ /\A\);\n\z/ or fail("INSERT does not end with );");
    print $out, $rest;
}
'
