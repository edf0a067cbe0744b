#!/bin/bash
# cli_docs_test.sh: the man page, the shell completions and --help cover every command, flag and routes.yaml key the real binary has; --version matches `version`.
# Usage: cli_docs_test.sh BINARY SOURCE_DIR
# Commands and flags come from `switchyard --help` and `switchyard CMD --help`, keys from
# `switchyard check --print-keys`, so a command, flag or key added later is checked too.
set -u -o pipefail
BIN=$1
SRC=$2
MAN=$SRC/packaging/switchyard.1
BASH_COMPLETION=$SRC/packaging/completions/switchyard.bash
ZSH_COMPLETION=$SRC/packaging/completions/_switchyard
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# --- version ---
version=$("$BIN" version) || fail "switchyard version exited $?"
flag_version=$("$BIN" --version) || fail "switchyard --version exited $?"
[ "$version" = "$flag_version" ] || fail "--version printed '$flag_version', version '$version'"
grep -Eq '^switchyard [0-9][^ ]* \((Debug|Release|RelWithDebInfo|MinSizeRel) build, plugin ABI [0-9]+\)$' \
  <<<"$version" || fail "version line '$version' lacks the version, build type or plugin ABI"

# --- commands ---
top_help=$("$BIN" --help) || fail "switchyard --help exited $?"
commands=$(awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{on=0}' <<<"$top_help")
[ "$(wc -w <<<"$commands")" -ge 7 ] || fail "found only '$commands' under Subcommands: in --help"
grep -q '^Examples:' <<<"$top_help" || fail "switchyard --help has no Examples:"
[ -n "$(zsh --version 2>/dev/null)" ] || fail "zsh is not installed (scripts/install-deps)"
zsh -n "$ZSH_COMPLETION" || fail "$ZSH_COMPLETION: zsh -n reports a syntax error"
bash -n "$BASH_COMPLETION" || fail "$BASH_COMPLETION: bash -n reports a syntax error"

# complete WORDS...: what the bash completion offers for the last word of "switchyard WORDS...".
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=(switchyard "$@"); COMP_CWORD=$#; _switchyard;
           printf "%s\n" "${COMPREPLY[@]}"' _ "$BASH_COMPLETION" "$@"
}
offered=$(complete_words "")
# zsh_offers STATE [WORD]: what _switchyard hands to zsh's _describe (STATE command: the commands)
# or _arguments (STATE argument, WORD the command: its option specs), with both stubbed to print.
zsh_offers() {
  ZSTATE=$1 ZFILE=$ZSH_COMPLETION zsh -f -c '
    _arguments() { if [[ $1 == -C ]]; then state=$ZSTATE; return 1; fi; print -l -- "$@"; }
    _describe() { print -l -- "${(@P)4}"; }
    words=("${@}")
    source "$ZFILE"' _ "${@:2}"
}
zsh_commands=$(zsh_offers command | cut -d: -f1)
roff() { sed 's/-/\\-/g' <<<"$1"; }   # a flag as the man page writes it

for cmd in $commands; do
  grep -qx -- "$cmd" <<<"$offered" || fail "bash completion does not offer the command $cmd"
  grep -qx -- "$cmd" <<<"$zsh_commands" || fail "zsh completion does not offer the command $cmd"
  zsh_options=$(zsh_offers argument "$cmd" | sed -E 's/^\([^)]*\)//; s/[[:punct:]]?\[.*//')
  grep -Eq "^\.B switchyard $cmd( |\$)" "$MAN" || fail "switchyard.1 SYNOPSIS lacks '.B switchyard $cmd'"
  grep -Eq "^\.B[IR]? \"?$cmd( |\"|\$)" <(sed -n '/^\.SH COMMANDS/,/^\.SH /p' "$MAN") ||
    fail "switchyard.1 COMMANDS has no entry for $cmd"
  help=$("$BIN" "$cmd" --help) || { fail "switchyard $cmd --help exited $?"; continue; }
  grep -q '^Examples:' <<<"$help" || fail "switchyard $cmd --help has no Examples:"
  grep -Eq "^  switchyard $cmd( |\$)" <<<"$help" || fail "switchyard $cmd --help has no example of $cmd"
  options=$(sed '/^Examples:/,$d' <<<"$help" | grep -oE -- '(^|[ ,])--[a-z][a-z-]*' | sed 's/^[ ,]//' | sort -u)
  cmd_offered=$(complete_words "$cmd" --)
  if [ "$cmd" = dlq ]; then
    cmd_offered=$(for a in list show replay purge; do complete_words dlq "$a" --; done)
  fi
  for option in $options; do
    grep -qF -- "$(roff "$option")" "$MAN" || fail "switchyard.1 does not mention $cmd $option"
    case $option in --help | --help-all) continue ;; esac   # global, offered at the top level
    grep -qx -- "$option" <<<"$cmd_offered" || fail "bash completion does not offer $cmd $option"
    grep -qx -- "$option" <<<"$zsh_options" || fail "zsh completion does not offer $cmd $option"
  done
done

# --- routes.yaml keys ---
keys=$("$BIN" check --print-keys | awk 'NR > 1 {print $1}')
[ "$(wc -l <<<"$keys")" -ge 20 ] || fail "check --print-keys printed only: $keys"
while read -r key; do   # (keys like sources.* must not be globbed)
  grep -qxF -- ".B $key" "$MAN" || fail "switchyard.1 ROUTES.YAML has no entry '.B $key'"
done <<<"$keys"

# --- the page renders without warnings ---
if command -v man >/dev/null 2>&1; then
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$MAN" 2>&1 >/dev/null)
  [ -z "$warnings" ] || fail "man --warnings on switchyard.1: $warnings"
fi

[ "$failed" = 0 ] && echo "PASS: $(wc -w <<<"$commands") commands, $(wc -l <<<"$keys") keys"
exit $failed
