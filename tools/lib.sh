# Shared by tools/build and tools/stack: where each tool lives. Source after versions.env.
die() { echo "tools: $*" >&2; exit 1; }

tools_root() { echo "${HELM_UNSTUCK_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/helm-unstuck/tools}"; }

tool_version() {
  case $1 in
    temporal) echo "$TEMPORAL_CLI_VERSION" ;; temporal-server) echo "$TEMPORAL_SERVER_VERSION" ;;
    kubernetes) echo "$KUBERNETES_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;; helm3) echo "$HELM3_VERSION" ;; helm4) echo "$HELM4_VERSION" ;;
    oauth2-proxy) echo "$OAUTH2_PROXY_VERSION" ;; oidc-provider) echo "$ZITADEL_OIDC_VERSION" ;;
    *) die "unknown tool '$1'" ;;
  esac
}

# The oidc-provider is our own main: its cache key also covers that source, so an edit rebuilds it.
tool_dir() {
  local d
  d="$(tools_root)/$1-$(tool_version "$1")"
  [[ $1 != oidc-provider ]] || d+="-$(cat "$(dirname "${BASH_SOURCE[0]}")"/go/oidc-provider/*.go | sha256sum | cut -c1-12)"
  echo "$d"
}

# The major version a helm binary reports ("3" or "4"), or nothing.
helm_major() { "$1" version --template '{{.Version}}' 2>/dev/null | sed -n 's/^v\([0-9]*\)\..*/\1/p'; }

# Prints the user's binary for a tool when one is configured and valid (status 0). Status 10: none
# is configured. A configured one that is not valid is an error (die), never silently ignored.
NO_OVERRIDE=10
tool_override() {
  case $1 in
    temporal) [[ -n ${TEMPORAL_CLI_PATH:-} ]] || return $NO_OVERRIDE
      [[ -x $TEMPORAL_CLI_PATH ]] || die "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable"
      echo "$TEMPORAL_CLI_PATH" ;;
    temporal-server) [[ -n ${TEMPORAL_SERVER_BIN:-} ]] || return $NO_OVERRIDE
      [[ -x $TEMPORAL_SERVER_BIN ]] || die "TEMPORAL_SERVER_BIN=$TEMPORAL_SERVER_BIN is not an executable"
      [[ -x $(dirname "$TEMPORAL_SERVER_BIN")/temporal-sql-tool ]] ||
        die "TEMPORAL_SERVER_BIN=$TEMPORAL_SERVER_BIN has no executable temporal-sql-tool beside it"
      echo "$TEMPORAL_SERVER_BIN" ;;
    kubernetes|etcd) [[ -n ${KUBEBUILDER_ASSETS:-} ]] || return $NO_OVERRIDE
      local b="$KUBEBUILDER_ASSETS/$([[ $1 == etcd ]] && echo etcd || echo kube-apiserver)"
      [[ -x $b ]] || die "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no executable $(basename "$b")"
      echo "$b" ;;
    helm3|helm4) local want=${1#helm} var="HELM${1#helm}_BIN"
      if [[ -n ${!var:-} ]]; then
        [[ -x ${!var} ]] || die "$var=${!var} is not an executable"
        [[ $(helm_major "${!var}") == "$want" ]] || die "$var=${!var} is not helm v$want"
        echo "${!var}"; return 0
      fi
      [[ -n ${HELM_BIN:-} ]] || return $NO_OVERRIDE
      [[ -x $HELM_BIN ]] || die "HELM_BIN=$HELM_BIN is not an executable"
      # HELM_BIN serves whichever major version it reports; the other one is built.
      [[ $(helm_major "$HELM_BIN") == "$want" ]] || return $NO_OVERRIDE
      echo "$HELM_BIN" ;;
    oauth2-proxy|oidc-provider) local var=OAUTH2_PROXY_BIN
      [[ $1 == oauth2-proxy ]] || var=OIDC_PROVIDER_BIN
      [[ -n ${!var:-} ]] || return $NO_OVERRIDE
      [[ -x ${!var} ]] || die "$var=${!var} is not an executable"
      echo "${!var}" ;;
    *) die "unknown tool '$1'" ;;
  esac
}

# The binary the project will run for a tool: the user's, or the cached build.
tool_path() {
  local o rc=0
  o=$(tool_override "$1") || rc=$?
  if [[ $rc -eq 0 ]]; then echo "$o"; return; fi
  [[ $rc -eq $NO_OVERRIDE ]] || exit "$rc"
  case $1 in
    temporal) echo "$(tool_dir temporal)/temporal" ;;
    temporal-server) echo "$(tool_dir temporal-server)/temporal-server" ;;
    kubernetes) echo "$(tool_dir kubernetes)/kube-apiserver" ;;
    etcd) echo "$(tool_dir etcd)/etcd" ;;
    helm3|helm4) echo "$(tool_dir "$1")/helm" ;;
    oauth2-proxy|oidc-provider) echo "$(tool_dir "$1")/$1" ;;
  esac
}
