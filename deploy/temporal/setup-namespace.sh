#!/bin/sh
# One-shot (docker-compose.yml service temporal-admin-tools, image temporalio/admin-tools): once the server is healthy,
# creates the namespace the product uses (TEMPORAL_NAMESPACE, default "default") and registers the product's custom
# search attributes in it. Idempotent. The `temporal` CLI reads TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE itself.
set -eu
NS="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${NAMESPACE_RETENTION:-72h}"

echo "temporal-admin-tools: waiting for the Temporal frontend at ${TEMPORAL_ADDRESS:-127.0.0.1:7233}"
i=0
until temporal operator cluster health 2>/dev/null | grep -q SERVING; do
  i=$((i + 1))
  [ "$i" -lt 60 ] || { echo "temporal-admin-tools: server not healthy" >&2; exit 1; }
  sleep 2
done

if temporal operator namespace describe --namespace "$NS" >/dev/null 2>&1; then
  echo "temporal-admin-tools: namespace $NS exists"
else
  temporal operator namespace create --namespace "$NS" --retention "$RETENTION" \
    --description "durable-handoff conversations"
  echo "temporal-admin-tools: namespace $NS created"
fi

# The namespace cache needs a moment after creation before search attributes can be listed.
i=0
until temporal operator search-attribute list --namespace "$NS" >/dev/null 2>&1; do
  i=$((i + 1))
  [ "$i" -lt 30 ] || { echo "temporal-admin-tools: cannot list search attributes of $NS" >&2; exit 1; }
  sleep 1
done

# Custom search attributes the product writes (name:type).
for spec in ConversationStatus:Keyword ActiveAgent:Keyword TeamName:Keyword PendingRequests:Int; do
  name="${spec%%:*}"
  type="${spec##*:}"
  if temporal operator search-attribute list --namespace "$NS" | grep -qw "$name"; then
    echo "temporal-admin-tools: search attribute $name exists"
  else
    temporal operator search-attribute create --namespace "$NS" --name "$name" --type "$type"
    echo "temporal-admin-tools: search attribute $name ($type) created"
  fi
done
