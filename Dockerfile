# Windflow monitor: a small static image.
#
#   docker build --build-arg VERSION=1.2.3 -t windflow/monitor:1.2.3 .
#   docker run --rm windflow/monitor:1.2.3 version
#
# Two stages. "build" compiles a static binary (CGO off: no libc needed).
# "runtime", the final stage, is FROM scratch and holds that binary, the CA
# bundle (TLS to remote Docker engines and to notification services over
# HTTPS) and the passwd/group entries of the non-root user 65532
# (deploy/rootfs/). Nothing else: no shell, no package manager.
#
# Why scratch and not gcr.io/distroless/static: distroless/static ships the
# same things (CA bundle, user 65532 "nonroot", plus tzdata, which Windflow
# does not use: it works in UTC). scratch keeps every file of the image
# defined in this repository and needs no second registry.
#
# Health: the image has no HEALTHCHECK instruction, since the probe depends on
# the command the container runs. `windflow healthcheck` probes the API's
# /healthz on the same machine (docker-compose.temporal.yml uses it for the
# api service); GET /readyz says whether Postgres and Temporal answer.
#
# The final stage is also built by deploy/image_test.go, which takes the
# stage from this file as it is and feeds it a binary built by `go build`
# (golang:1.26 cannot be pulled where the tests run). Keep the final stage
# to FROM/ARG/LABEL/ENV/COPY/USER/EXPOSE/WORKDIR/ENTRYPOINT/CMD: there is no
# shell in it for RUN anyway.

ARG GO_IMAGE=golang:1.26

FROM ${GO_IMAGE} AS build
WORKDIR /src
# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/windflow ./cmd/windflow
# The agent alone (docs/agent.md): a few MB, without the monitor's packages.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/windflow-agent ./cmd/windflow-agent

FROM scratch AS runtime
ARG VERSION=dev
LABEL org.opencontainers.image.title="windflow" \
      org.opencontainers.image.description="Windflow monitor: Docker engines watched by Temporal workflows" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# /etc/passwd and /etc/group with the single user windflow (65532:65532).
COPY deploy/rootfs/ /
COPY --from=build /out/windflow /windflow
COPY --from=build /out/windflow-agent /windflow-agent
# In a container the API must listen on all interfaces of its own network
# namespace (the binary's default, 127.0.0.1:8080, is meant for `make dev`).
ENV WINDFLOW_HTTP_ADDR=0.0.0.0:8080
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/windflow"]
CMD ["api"]
