# Shared settings for the lab/bin scripts (sourced, not executed).
# Every setting can be overridden from the environment, so a second lab (tests)
# can run beside the first with its own LAB_DIR and ports.

LAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export LAB_ROOT
export LAB_DIR="${LAB_DIR:-$LAB_ROOT/.lab}"
export LAB_CACHE="${LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-irsa-runbook}"
export MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
export VAULT_VERSION="${VAULT_VERSION:-1.21.4}"
export LAB_MOTO_PORT="${LAB_MOTO_PORT:-4566}"
export LAB_VAULT_PORT="${LAB_VAULT_PORT:-8200}"
export LAB_ISSUER_PORT="${LAB_ISSUER_PORT:-8181}"
export CLUSTER_NAME="${CLUSTER_NAME:-gloo-ee-vault-integration}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export LAB_ACCOUNT_ID=123456789012  # moto's fixed default account

die() { echo "${0##*/}: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
elapsed() { local ms=$(( $(now_ms) - $1 )); printf '%d.%01ds' $((ms / 1000)) $(((ms % 1000) / 100)); }

# The vault binary the lab runs: one on PATH wins over the cached source build.
vault_bin() {
  command -v vault 2>/dev/null || echo "$LAB_CACHE/vault-$VAULT_VERSION"
}

# Node-side helpers (lab/lib/*.ts) run with tsx from the project's node_modules.
tsx() {
  local bin="$LAB_ROOT/node_modules/.bin/tsx"
  [[ -x "$bin" ]] || die "tsx is missing: run \`npm install\` in $LAB_ROOT first"
  (cd "$LAB_ROOT" && NODE_NO_WARNINGS=1 "$bin" "$@")
}
