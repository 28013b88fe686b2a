# ditto-gateway container image (docs/deployment.md).
#
#   docker build -t ditto-gateway .
#   docker run --rm -p 8080:8080 ditto-gateway            # the demo: gateway + bundled mock
#   docker run --rm -p 8080:8080 -v "$PWD/gateway.json:/etc/ditto/gateway.json:ro" \
#     -e OPENAI_API_KEY ditto-gateway /etc/ditto/gateway.json --listen 0.0.0.0:8080   # real
#
# The build stage runs the same scripts as the README (scripts/deps.sh, scripts/build.sh),
# so the image and a developer's build cannot drift apart. CI builds and runs this file with
# buildah (scripts/image-check.sh, the `image` stage of scripts/test.sh).

FROM debian:12 AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN bash scripts/deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
# Only the two binaries the image runs: no test targets, and no GoogleTest lookup.
RUN rm -rf build \
    && CCACHE_DISABLE=1 DITTO_TARGETS="ditto-gateway ditto-mock-upstream" \
       bash scripts/build.sh -DDITTO_BUILD_TESTS=OFF \
    && strip build/src/ditto-gateway build/src/ditto-mock-upstream

FROM debian:12-slim AS runtime
# Only the shared libraries the binaries link (ldd build/src/ditto-gateway), and the CA
# bundle for TLS to upstreams and Redis.
RUN apt-get update -q \
    && apt-get install -y -q --no-install-recommends ca-certificates libssl3 libhiredis0.14 \
       libre2-9 libmimalloc2.0 curl tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /nonexistent --shell /usr/sbin/nologin ditto
COPY --from=build /src/build/src/ditto-gateway /src/build/src/ditto-mock-upstream /usr/local/bin/
COPY scripts/image-entrypoint.sh /usr/local/bin/ditto-entrypoint
# The demo's config and its demo-only key and admin token (read only by the `demo` command).
# A real deployment mounts its own gateway.json (e.g. at /etc/ditto/gateway.json) and passes
# secrets through the environment or files (secret://file?path=…), docs/deployment.md.
COPY configs/demo.json /etc/ditto/demo.json
COPY configs/demo.env /etc/ditto/demo.env
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health || exit 1
# No arguments (CMD "demo"): the mock upstream and a gateway in front of it, so the README's
# curl lines work against the container. Any other arguments are the gateway's own:
# `ditto-gateway ARGS`, as PID 1, e.g. configs/kubernetes/base/deployment.yaml's `args:` (keep
# --drain-timeout-secs within the orchestrator's grace period, docs/deployment.md).
ENTRYPOINT ["/usr/local/bin/ditto-entrypoint"]
CMD ["demo"]
