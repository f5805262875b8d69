#!/bin/sh
# One-shot (temporalio/admin-tools): the namespace Engram uses and the search attributes its workflows set.
# Idempotent: creates only what is missing. The CLI reads TEMPORAL_ADDRESS from the environment.
set -eu
NS="${TEMPORAL_NAMESPACE:-default}"
temporal operator namespace describe --namespace "$NS" >/dev/null 2>&1 \
  || temporal operator namespace create --namespace "$NS" --retention 7d
for attr in AgentId OrgId; do
  if ! temporal operator search-attribute list --namespace "$NS" | grep -qw "$attr"; then
    temporal operator search-attribute create --namespace "$NS" --name "$attr" --type Keyword
  fi
done
echo "namespace $NS ready"
