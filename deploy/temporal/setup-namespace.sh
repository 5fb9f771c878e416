#!/bin/sh
# One-shot (service temporal-setup, image temporalio/admin-tools): waits for
# the Temporal frontend, registers the namespace Windflow uses (with its
# history retention) unless it exists, and registers the search attributes
# Windflow's workflows set (internal/envflow SearchAttributes). Every step
# is idempotent: it runs again on every `docker compose up`.
set -eu

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is not set}"
NAMESPACE=${TEMPORAL_NAMESPACE:-default}
RETENTION=${TEMPORAL_RETENTION:-72h}

tries=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" | grep -q SERVING; do
	tries=$((tries + 1))
	if [ "$tries" -ge 60 ]; then
		echo "temporal-setup: $TEMPORAL_ADDRESS is not SERVING after 60 tries" >&2
		exit 1
	fi
	sleep 2
done

if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
	echo "temporal-setup: namespace $NAMESPACE exists"
else
	temporal operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
fi

# A new namespace takes a moment to reach every frontend: retry.
tries=0
until temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" \
	--name WindflowEnvironment --type Keyword; do
	tries=$((tries + 1))
	if [ "$tries" -ge 30 ]; then
		echo "temporal-setup: could not register the search attribute WindflowEnvironment" >&2
		exit 1
	fi
	sleep 2
done
# Starting a workflow with it fails until the frontend knows it.
tries=0
until temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" | grep -q WindflowEnvironment; do
	tries=$((tries + 1))
	if [ "$tries" -ge 30 ]; then
		echo "temporal-setup: the search attribute WindflowEnvironment does not show" >&2
		exit 1
	fi
	sleep 2
done
echo "temporal-setup: done"
