# Tollgate gateway image: the bundled server and its production dependencies, nothing else.
#   docker build -t tollgate-gateway .
#   docker run --rm -p 8080:8080 -v $PWD/gateway.yaml:/etc/tollgate/gateway.yaml:ro \
#     -e GATEWAY_JWT_SECRET -e GATEWAY_POSTGRES_URL -e OIDC_CLIENT_SECRET -e ANTHROPIC_API_KEY \
#     tollgate-gateway --config /etc/tollgate/gateway.yaml
# Runs as the unprivileged `node` user (uid 1000) and writes nothing to its filesystem when
# store.postgres_url is set, so a read-only root filesystem works (see deploy/kubernetes).

# 1. Build the server bundle (dev dependencies: esbuild, TypeScript sources).
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts ./scripts
COPY gateway-server ./gateway-server
COPY tsconfig.json ./
RUN node scripts/build.mjs --server-only

# 2. Production dependencies only (the bundle keeps packages external).
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. Runtime.
FROM node:24-slim
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    TOLLGATE_LOG_LEVEL=info
WORKDIR /app
# package.json carries "type": "module", which the ESM bundle needs.
COPY --chown=root:root package.json ./
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist/server ./dist/server
USER node
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/server/tollgate-gateway.js"]
CMD ["--config", "/etc/tollgate/gateway.yaml"]
