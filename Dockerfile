# ditto-gateway container image (docs/deployment.md).
#
#   docker build -t ditto-gateway .
#   docker run --rm -p 8080:8080 ditto-gateway            # the demo: mock upstream config
#
# The build stage runs the same scripts as the README (scripts/deps.sh, scripts/build.sh),
# so the image and a developer's build cannot drift apart.

FROM debian:12 AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN bash scripts/deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN rm -rf build && CCACHE_DISABLE=1 bash scripts/build.sh \
    && strip build/src/ditto-gateway build/src/ditto-mock-upstream

FROM debian:12-slim AS runtime
# Only the shared libraries the binaries link (ldd build/src/ditto-gateway), and the CA
# bundle for TLS to upstreams and Redis.
RUN apt-get update -q \
    && apt-get install -y -q --no-install-recommends ca-certificates libssl3 libhiredis0.14 \
       libspdlog1.10 libfmt9 libre2-9 libmimalloc2.0 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /nonexistent --shell /usr/sbin/nologin ditto
COPY --from=build /src/build/src/ditto-gateway /src/build/src/ditto-mock-upstream /usr/local/bin/
# The default config is the demo (the bundled mock upstream on 127.0.0.1:9090); mount your
# own gateway.json over /etc/ditto/gateway.json and pass secrets through the environment or
# files (secret://file?path=…).
COPY configs/demo.json /etc/ditto/gateway.json
# Demo values only; a real deployment sets them from its Secret / environment.
ENV DITTO_MOCK_URL=http://127.0.0.1:9090/v1 DITTO_DEMO_KEY=vk-demo-123
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health || exit 1
# The drain timeout matches the orchestrator's grace period (docs/deployment.md).
ENTRYPOINT ["/usr/local/bin/ditto-gateway"]
CMD ["/etc/ditto/gateway.json", "--listen", "0.0.0.0:8080", "--drain-timeout-secs", "30"]
