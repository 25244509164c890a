#!/usr/bin/env bash
# The guide's own commands ("Securing secrets in HashiCorp Vault using AWS IRSA"),
# in its order, as a shell script: the baseline (d) of `make bench`. Run against
# the lab's emulator (aws --endpoint-url) and Vault with the same names the
# runbook uses. Corrected only where the guide cannot run at all: its JSON
# documents are made valid (same content), eksctl's provider association is done
# with the aws CLI (eksctl cannot talk to an emulator), and the kubectl exec into
# vault-0 becomes the vault CLI against VAULT_ADDR (the lab's Vault is a process).
# No Gloo install: the lab has no Kubernetes cluster (the runbook skips it too).
#
#   bench/guide.sh setup     the guide's commands; prints "calls: aws N vault M" on stderr
#   bench/guide.sh cleanup   delete what setup made, by name (never the shared OIDC provider)
#
# Needs: aws (CLI v1 or v2), jq, the vault CLI (VAULT_BIN, default: vault on PATH;
# make bench passes the lab's binary).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

: "${AWS_ENDPOINT_URL:?AWS_ENDPOINT_URL is not set: eval \"\$(make -s lab-env)\"}"
: "${VAULT_ADDR:?VAULT_ADDR is not set}" "${VAULT_TOKEN:?VAULT_TOKEN is not set}"
VAULT="${VAULT_BIN:-vault}"
export NAMESPACE="${NAMESPACE:-gloo-system}"
export CLUSTER_NAME AWS_REGION
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-$AWS_REGION}"  # aws CLI v1 reads only this one
export VAULT_AUTH_ROLE_NAME="${VAULT_AUTH_ROLE_NAME:-dev-role-iam-${CLUSTER_NAME}}"
export VAULT_AUTH_POLICY_NAME="${VAULT_AUTH_POLICY_NAME:-gloo-vault-auth-policy-${CLUSTER_NAME}}"
export IAM_SERVER_ID_HEADER_VALUE="${IAM_SERVER_ID_HEADER_VALUE:-vault.gloo.example.com}"
AUTH_MOUNT="${VAULT_AUTH_MOUNT:-aws}"
KV_MOUNT="${VAULT_KV_MOUNT:-dev}"
POLICY="${VAULT_POLICY_NAME:-dev}"
STS_ENDPOINT="${VAULT_AWS_ENDPOINT_URL:-https://sts.${AWS_REGION}.amazonaws.com}"
VALUES_FILE="${GLOO_VALUES_FILE:-helm-overrides.yaml}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

# Each CLI command is counted in a file ($(...) runs in a subshell).
aws() { echo aws >> "$work/calls"; command aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }
vault() { echo vault >> "$work/calls"; "$VAULT" "$@"; }

setup() {
  # ---- AWS step 1: cluster with OIDC
  export ACCOUNT_ID=$(aws sts get-caller-identity --query "Account" --output text)
  export OIDC_PROVIDER=$(aws eks describe-cluster --name $CLUSTER_NAME --region $AWS_REGION --query "cluster.identity.oidc.issuer" --output text | sed -e "s/^https:\/\///")
  # eksctl utils associate-iam-oidc-provider --cluster $CLUSTER_NAME --approve, with the aws CLI:
  if ! aws iam get-open-id-connect-provider --open-id-connect-provider-arn "arn:aws:iam::${ACCOUNT_ID}:oidc-provider/${OIDC_PROVIDER}" >/dev/null 2>&1; then
    aws iam create-open-id-connect-provider --url "https://${OIDC_PROVIDER}" --client-id-list sts.amazonaws.com --thumbprint-list 9e99a48a9960b14926bb7f3b02e22da2b0ab7280 >/dev/null
  fi

  # ---- AWS step 2: the role (the guide's trust relationship, as valid JSON)
  cat <<EOF > trust-relationship.json
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": {
        "Federated": "arn:aws:iam::${ACCOUNT_ID}:oidc-provider/${OIDC_PROVIDER}"
      },
      "Action": "sts:AssumeRoleWithWebIdentity",
      "Condition": {
        "StringEqualsIfExists": {
          "${OIDC_PROVIDER}:aud": "",
          "${OIDC_PROVIDER}:sub": [
            "system:serviceaccount:${NAMESPACE}:gloo",
            "system:serviceaccount:${NAMESPACE}:discovery"
          ]
        }
      }
    }
  ]
}
EOF
  export VAULT_AUTH_ROLE_ARN=$([[ $(aws iam list-roles --query "Roles[?RoleName=='${VAULT_AUTH_ROLE_NAME}'].Arn" --output text) == "" ]] \
    && aws iam create-role \
      --role-name $VAULT_AUTH_ROLE_NAME \
      --assume-role-policy-document file://trust-relationship.json \
      --description "Vault auth role" | jq -r .Role.Arn || aws iam list-roles --query "Roles[?RoleName=='${VAULT_AUTH_ROLE_NAME}'].Arn" --output text)
  rm -f trust-relationship.json

  # ---- AWS step 3: the policy (valid JSON), attached to the role
  cat <<EOF > gloo-vault-auth-policy.json
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "",
      "Effect": "Allow",
      "Action": [
        "ec2:DescribeInstances",
        "iam:GetInstanceProfile",
        "iam:GetUser",
        "iam:GetRole"
      ],
      "Resource": "*"
    },
    {
      "Effect": "Allow",
      "Action": ["sts:AssumeRole"],
      "Resource": ["${VAULT_AUTH_ROLE_ARN}"]
    }
  ]
}
EOF
  export VAULT_AUTH_POLICY_ARN=$([[ $(aws iam list-policies --query "Policies[?PolicyName=='${VAULT_AUTH_POLICY_NAME}'].Arn" --output text) == "" ]] \
    && aws iam create-policy \
      --region=${AWS_REGION} \
      --policy-name="${VAULT_AUTH_POLICY_NAME}" \
      --description="Policy used by the Vault user to check instance identity" \
      --policy-document file://gloo-vault-auth-policy.json | jq -r .Policy.Arn || aws iam list-policies --query "Policies[?PolicyName=='${VAULT_AUTH_POLICY_NAME}'].Arn" --output text)
  rm -f gloo-vault-auth-policy.json
  aws iam attach-role-policy --role-name $VAULT_AUTH_ROLE_NAME --policy-arn=${VAULT_AUTH_POLICY_ARN}

  # ---- Vault step 1 (install): the lab's Vault is already running
  vault status >/dev/null

  # ---- Vault steps 2-4
  vault auth enable -path="$AUTH_MOUNT" aws >/dev/null
  vault secrets enable -path="$KV_MOUNT" -version=2 kv >/dev/null
  cat <<EOF > policy.hcl
# Access to dev path
path "${KV_MOUNT}/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

# Additional access for UI
path "${KV_MOUNT}/" {
  capabilities = ["list"]
}

path "sys/mounts" {
  capabilities = ["read", "list"]
}
EOF
  vault policy write "$POLICY" policy.hcl >/dev/null
  rm -f policy.hcl

  # ---- Vault step 5: the AWS auth method's client config (the lab's STS endpoint)
  vault write "auth/${AUTH_MOUNT}/config/client" \
    iam_server_id_header_value=${IAM_SERVER_ID_HEADER_VALUE} \
    sts_endpoint=${STS_ENDPOINT} \
    sts_region=${AWS_REGION} \
    iam_endpoint=${STS_ENDPOINT} >/dev/null

  # ---- Vault step 6: the Vault role bound to the IAM role
  vault write "auth/${AUTH_MOUNT}/role/${VAULT_AUTH_ROLE_NAME}" \
    auth_type=iam \
    bound_iam_principal_arn="${VAULT_AUTH_ROLE_ARN}" \
    policies=${POLICY} >/dev/null

  # ---- Gloo step 1: the Helm overrides (no install without a cluster)
  export VAULT_ADDRESS=${VAULT_ADDRESS:-http://vault-internal.vault:8200}
  cat <<EOF > "$VALUES_FILE"
settings:
  secretOptions:
    sources:
      - vault:
          # set to address for the Vault instance
          address: ${VAULT_ADDRESS}
          aws:
            iamServerIdHeader: ${IAM_SERVER_ID_HEADER_VALUE}
            mountPath: ${AUTH_MOUNT}
            region: ${AWS_REGION}
          # assumes kv store is mounted on 'dev'
          pathPrefix: ${KV_MOUNT}
      - kubernetes: {}
gloo:
  serviceAccount:
    extraAnnotations:
      eks.amazonaws.com/role-arn: ${VAULT_AUTH_ROLE_ARN}
discovery:
  serviceAccount:
    extraAnnotations:
      eks.amazonaws.com/role-arn: ${VAULT_AUTH_ROLE_ARN}
EOF
  echo "calls: aws $(grep -c '^aws' "$work/calls") vault $(grep -c '^vault' "$work/calls")" >&2
}

cleanup() {
  local account policy_arn
  account=$(aws sts get-caller-identity --query Account --output text)
  policy_arn="arn:aws:iam::${account}:policy/${VAULT_AUTH_POLICY_NAME}"
  vault delete "auth/${AUTH_MOUNT}/role/${VAULT_AUTH_ROLE_NAME}" >/dev/null 2>&1 || true
  vault auth disable "$AUTH_MOUNT" >/dev/null 2>&1 || true
  vault secrets disable "$KV_MOUNT" >/dev/null 2>&1 || true
  vault policy delete "$POLICY" >/dev/null 2>&1 || true
  aws iam detach-role-policy --role-name "$VAULT_AUTH_ROLE_NAME" --policy-arn "$policy_arn" >/dev/null 2>&1 || true
  for v in $(aws iam list-policy-versions --policy-arn "$policy_arn" --query 'Versions[?!IsDefaultVersion].VersionId' --output text 2>/dev/null || true); do
    aws iam delete-policy-version --policy-arn "$policy_arn" --version-id "$v" >/dev/null 2>&1 || true
  done
  aws iam delete-policy --policy-arn "$policy_arn" >/dev/null 2>&1 || true
  aws iam delete-role --role-name "$VAULT_AUTH_ROLE_NAME" >/dev/null 2>&1 || true
  rm -f "$VALUES_FILE"
}

case "${1:-}" in
  setup) setup ;;
  cleanup) cleanup ;;
  *) echo "usage: bench/guide.sh setup|cleanup" >&2; exit 2 ;;
esac
