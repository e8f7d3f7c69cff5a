# gatehouse's image: `podman build -t gatehouse:0.1.0 .` (or docker build).
# Runs as UID/GID 1000 on a read-only root filesystem; SQLite lives in the /data volume.
# Ports: 4180 (gatehouse), 9180 (/metrics, /healthz, /readyz).

# Build: every dependency (TypeScript among them), compile, then drop the dev dependencies.
# argon2 loads its prebuilt binary on Node 22 and later, so no compiler is needed here.
FROM docker.io/library/node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --no-audit --no-fund

# Run: Node 24 LTS, the compiled code, production dependencies, the launcher and the pages' script.
FROM docker.io/library/node:24-bookworm-slim
ENV NODE_ENV=production \
    GATEHOUSE_DATABASE_URL=file:/data/gatehouse.db \
    PATH=/app/bin:$PATH
WORKDIR /app
COPY package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY assets ./assets
# The only writable place; owned by the user below, so a fresh volume mounted here is too.
RUN mkdir /data && chown 1000:1000 /data
VOLUME /data
USER 1000:1000
EXPOSE 4180 9180
# bin/gatehouse starts node with the memory settings gatehouse is measured with, and execs
# it: node is PID 1, and its own SIGTERM handler drains and exits 0.
ENTRYPOINT ["gatehouse"]
CMD ["serve"]
