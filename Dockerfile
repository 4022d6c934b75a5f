# Container images of the topology in docker-compose.yml (not built or run on the development
# machine, which has no Docker; Tests/e2e/test_install.py checks the file's structure only).
#   target `app`:   opsplane and opsctl on Debian 12 slim (workers, ticker, monitor, migrate)
#   target `nginx`: Debian's nginx with the production site, rendered at start
# Build: docker compose build   (or: docker build --target app -t opsplane .)

ARG SWIFT_IMAGE=swift:6.3-bookworm

# --- build ----------------------------------------------------------------------------------------
FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libfcgi-dev libpq-dev libjansson-dev libssl-dev \
      zlib1g-dev libcurl4-openssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
# The Swift runtime is linked in: the runtime image needs only the C libraries below.
RUN swift build -c release --static-swift-stdlib --product opsplane \
 && swift build -c release --static-swift-stdlib --product opsctl \
 && install -D -m 755 .build/release/opsplane /out/opsplane \
 && install -D -m 755 .build/release/opsctl /out/opsctl

# --- app: workers, ticker, monitor, migrate -------------------------------------------------------
FROM debian:12-slim AS app
RUN apt-get update \
 && apt-get install -y --no-install-recommends libfcgi0ldbl libpq5 libjansson4 libssl3 zlib1g \
      libcurl4 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin opsplane \
 && install -d -o opsplane -g opsplane -m 755 /run/opsplane
COPY --from=build /out/opsplane /out/opsctl /usr/local/bin/
COPY deploy/docker/monitor.json deploy/docker/log-sources.json /etc/opsplane/
USER opsplane
ENV OPS_MONITOR_CONFIG=/etc/opsplane/monitor.json OPS_LOG_SOURCES=/etc/opsplane/log-sources.json
ENTRYPOINT ["/usr/local/bin/opsplane"]

# --- nginx: the production site -----------------------------------------------------------------
FROM debian:12-slim AS nginx
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx openssl \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default
COPY nginx /opt/opsplane/share/opsplane/nginx
COPY frontend /opt/opsplane/share/opsplane/frontend
COPY deploy/render-nginx.sh deploy/lib-common.sh deploy/lib-nginx.sh deploy/gen-selfsigned-cert.sh /opt/opsplane/share/opsplane/deploy/
COPY deploy/docker/nginx.env deploy/docker/nginx-entrypoint.sh /etc/opsplane/
EXPOSE 80 443
ENTRYPOINT ["/etc/opsplane/nginx-entrypoint.sh"]
