# switchyard.bash: bash completion for switchyard (installed as /usr/share/bash-completion/completions/switchyard).
# Self-contained (no bash-completion helpers needed): completes commands, dlq actions, each
# command's options, and files or directories after options that take a path.

_switchyard() {
  local cur prev cmd i
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=""
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()

  local commands="run reload check publish dlq stats top tap test pause resume backfill replay console version"
  local common="-c --config --redis --plugins-dir -h --help"

  # The command is the first word after `switchyard` that is neither an option nor its value.
  local takes_value="-c --config --redis --plugins-dir --file --pid-file --instance --source \
    --handler --limit --interval --event --reason --since --before --older-than --route \
    --to-handler --until --rate"
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case " $takes_value " in
      *" ${COMP_WORDS[i]} "*) ((i++)); continue ;;
    esac
    case ${COMP_WORDS[i]} in
      -*) ;;
      *) cmd=${COMP_WORDS[i]}; break ;;
    esac
  done

  case $prev in
    -c | --config | --file | --pid-file)
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return 0 ;;
    --plugins-dir)
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      return 0 ;;
    --redis | --instance | --source | --handler | --limit | --interval | --event | --reason | \
      --since | --before | --older-than | --route | --to-handler | --until | --rate)
      return 0 ;;  # a value: nothing sensible to offer
  esac

  local words
  case $cmd in
    "") words="$commands --help --help-all --version" ;;
    run) words="$common --instance --pid-file --watch" ;;
    reload) words="$common --pid-file" ;;
    check) words="$common --print-keys --route --source --connect" ;;
    publish) words="$common --file --source --stream" ;;
    dlq)
      local action=""
      for ((i = i + 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
          list | show | replay | purge) action=${COMP_WORDS[i]}; break ;;
        esac
      done
      if [ -z "$action" ] && [[ $cur != -* ]]; then
        words="list show replay purge"
      else
        words="$common --source --handler --limit --json"
        case $action in
          list) words="$words --event --reason --since --before" ;;
          replay) words="$words --event --reason --since --before --dry-run --yes" ;;
          purge) words="$words --event --reason --since --before --older-than --yes" ;;
        esac
      fi ;;
    stats) words="$common --source --json --watch --interval" ;;
    top) words="$common --source --sort --interval" ;;
    tap) words="$common --event --source --limit" ;;
    test)
      if [[ $cur != -* ]]; then
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return 0
      fi
      words="$common" ;;
    pause | resume) words="$common --handler" ;;
    backfill) words="$common --handler --since --until --event --rate --source --dry-run --reset" ;;
    replay) words="$common --to-handler --since --until --event --rate --source --dry-run --reset" ;;
    console) words="$common --listen" ;;
    version) words="-h --help" ;;
    *) words="$common" ;;
  esac
  mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
  return 0
}
complete -F _switchyard switchyard
