#!/usr/bin/env bash
# Installs the tools the build and the tests need, idempotently: a second run changes nothing.
# Go tools come from the Go module proxy, node packages from npm, system packages from apt-get.
# Everything lands in the repository (bin/, .tools/) except apt packages.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/bin"
TOOLS="$ROOT/.tools"
TERRAFORM_VERSION="${TERRAFORM_VERSION:-1.5.7}"
TFPLUGINDOCS_VERSION="v0.25.0"
GOLANGCI_LINT_VERSION="v2.15.0"
KINESIS_LOCAL_VERSION="0.6.2"
GOAWS_VERSION="v0.5.4" # pinned: older versions break the SQS JSON protocol

mkdir -p "$BIN" "$TOOLS"
log() { printf 'tools: %s\n' "$*"; }

apt_install() {
  if ! command -v apt-get >/dev/null; then
    log "missing $* and no apt-get: install it with your package manager"; exit 1
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -z "${APT_UPDATED:-}" ]; then $sudo apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# go_tool NAME MODULE_PATH PACKAGE VERSION: go install PACKAGE@VERSION into bin/ unless the binary
# there was already built from that module version.
go_tool() {
  local name="$1" mod="$2" pkg="$3" version="$4"
  if [ -x "$BIN/$name" ] && go version -m "$BIN/$name" 2>/dev/null | grep -qE "^\s+mod\s+$mod\s+$version\b"; then
    return
  fi
  log "installing $name $version"
  GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "$pkg@$version"
}

# goaws (SNS/SQS stand-in): its main package is app/cmd, so `go install` names the binary "cmd";
# install into a scratch GOBIN and move it to bin/goaws. Its go.mod has no replace directives, so
# `go install pkg@version` works.
install_goaws() {
  if [ -x "$BIN/goaws" ] && go version -m "$BIN/goaws" 2>/dev/null | grep -qE "^\s+mod\s+github.com/Admiral-Piett/goaws\s+$GOAWS_VERSION\b"; then
    return
  fi
  log "installing goaws $GOAWS_VERSION"
  local tmp
  tmp="$(mktemp -d)"
  GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "github.com/Admiral-Piett/goaws/app/cmd@$GOAWS_VERSION"
  mv -f "$tmp/cmd" "$BIN/goaws"
  rm -rf "$tmp"
}

# Terraform >= 1.5: bin/terraform is either a link to a suitable terraform on PATH or Terraform
# $TERRAFORM_VERSION built from source. Tests use bin/terraform, never PATH's first terraform.
tf_ok() { # tf_ok BINARY: version >= 1.5?
  local v
  v="$("$1" version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([0-9.]*\)".*/\1/p')" || return 1
  [ -n "$v" ] || return 1
  local major minor
  major="${v%%.*}"; minor="${v#*.}"; minor="${minor%%.*}"
  [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge 5 ]; }
}
install_terraform() {
  if [ -x "$BIN/terraform" ] && tf_ok "$BIN/terraform"; then return; fi
  rm -f "$BIN/terraform"
  if [ "${SLUICE_BUILD_TERRAFORM:-}" != "1" ]; then
    local found
    found="$(PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$BIN" | paste -sd:)" command -v terraform || true)"
    if [ -n "$found" ] && tf_ok "$found"; then
      log "using $found ($("$found" version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([0-9.]*\)".*/\1/p'))"
      ln -s "$found" "$BIN/terraform"
      return
    fi
  fi
  log "building Terraform $TERRAFORM_VERSION from source (a few minutes, once)"
  GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "github.com/hashicorp/terraform@v$TERRAFORM_VERSION"
}

install_kinesis_local() {
  local pkg="$TOOLS/node_modules/kinesis-local/package.json"
  if [ -f "$pkg" ] && grep -q "\"version\" *: *\"$KINESIS_LOCAL_VERSION\"" "$pkg"; then return; fi
  command -v npm >/dev/null || apt_install nodejs npm
  log "installing kinesis-local $KINESIS_LOCAL_VERSION"
  [ -f "$TOOLS/package.json" ] || echo '{"private": true}' > "$TOOLS/package.json"
  npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "kinesis-local@$KINESIS_LOCAL_VERSION" >/dev/null
}

# PostgreSQL 15 server binaries for internal/acctest, which runs its own throwaway server on a free
# port. The Debian package may also start a cluster on 5432; nothing relies on that one.
PG_BIN="${SLUICE_PG_BIN:-/usr/lib/postgresql/15/bin}"
install_postgres() {
  if [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/postgres" ]; then return; fi
  if [ -n "${SLUICE_PG_BIN:-}" ]; then
    # The package installs to /usr/lib/postgresql/15/bin, so it cannot fill a custom directory.
    log "SLUICE_PG_BIN=$SLUICE_PG_BIN has no initdb and postgres: fix it or unset it"; exit 1
  fi
  log "installing postgresql-15"
  apt_install postgresql-15
}

# Headless Chromium for the web UI's browser tests (runner/internal/web/browser_test.go), from
# Debian's packages. The tests find it on PATH (chromium) or through SLUICE_CHROMIUM.
install_chromium() {
  if [ -n "${SLUICE_CHROMIUM:-}" ] && [ -x "$SLUICE_CHROMIUM" ]; then return; fi
  if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then return; fi
  log "installing chromium"
  apt_install chromium
}

# MariaDB server binaries (Debian's mariadb-server) for internal/acctest, which runs its own
# throwaway server on a free port, as for PostgreSQL: the stand-in for MySQL connections.
install_mariadb() {
  if [ -x /usr/sbin/mariadbd ] && command -v mariadb-install-db >/dev/null; then return; fi
  log "installing mariadb-server"
  apt_install mariadb-server
}

command -v go >/dev/null || { log "Go is required (https://go.dev/dl/)"; exit 1; }
command -v git >/dev/null || apt_install git

# The set of tools to install: the arguments (tool names or a group), or everything when none.
# `make demo` asks for its group only, so a new user's first command compiles no linter.
#   scripts/tools.sh                 # everything: what `make test` needs
#   scripts/tools.sh demo            # terraform postgres
#   scripts/tools.sh demo-replicas   # terraform postgres kinesis-local
ALL_TOOLS="terraform kinesis-local tfplugindocs golangci-lint goaws postgres chromium mariadb"
want=()
for arg in "${@:-all}"; do
  case "$arg" in
    all) read -ra add <<<"$ALL_TOOLS" ;;
    demo) add=(terraform postgres) ;;
    demo-replicas) add=(terraform postgres kinesis-local) ;;
    docs) add=(terraform tfplugindocs) ;;
    lint) add=(golangci-lint) ;;
    terraform | kinesis-local | tfplugindocs | golangci-lint | goaws | postgres | chromium | mariadb) add=("$arg") ;;
    *) log "unknown tool or group \"$arg\": one of all, demo, demo-replicas, docs, lint, $ALL_TOOLS"; exit 2 ;;
  esac
  want+=("${add[@]}")
done
wants() { local t; for t in "${want[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }

installed=()
if wants terraform; then
  install_terraform
  installed+=("terraform $("$BIN/terraform" version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([0-9.]*\)".*/\1/p')")
fi
if wants kinesis-local; then
  command -v node >/dev/null || apt_install nodejs npm
  install_kinesis_local
  installed+=("kinesis-local $KINESIS_LOCAL_VERSION")
fi
if wants tfplugindocs; then
  go_tool tfplugindocs github.com/hashicorp/terraform-plugin-docs \
    github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs "$TFPLUGINDOCS_VERSION"
  installed+=("tfplugindocs $TFPLUGINDOCS_VERSION")
fi
if wants golangci-lint; then
  go_tool golangci-lint github.com/golangci/golangci-lint/v2 \
    github.com/golangci/golangci-lint/v2/cmd/golangci-lint "$GOLANGCI_LINT_VERSION"
  installed+=("golangci-lint $GOLANGCI_LINT_VERSION")
fi
if wants goaws; then
  install_goaws
  installed+=("goaws $GOAWS_VERSION")
fi
if wants postgres; then
  install_postgres
  installed+=("postgresql $("$PG_BIN/postgres" --version | sed -n 's/.* \([0-9][0-9.]*\).*/\1/p')")
fi
if wants mariadb; then
  install_mariadb
  installed+=("mariadb $(/usr/sbin/mariadbd --version 2>/dev/null | sed -n 's/.*Ver \([0-9][0-9.]*\).*/\1/p')")
fi
if wants chromium; then
  install_chromium
  installed+=("chromium $({ chromium --version 2>/dev/null || chromium-browser --version 2>/dev/null || "${SLUICE_CHROMIUM:-false}" --version 2>/dev/null; } | sed -n 's/[^0-9]*\([0-9][0-9.]*\).*/\1/p')")
fi
log "ok: $(IFS=,; printf '%s' "${installed[*]}" | sed 's/,/, /g')"
