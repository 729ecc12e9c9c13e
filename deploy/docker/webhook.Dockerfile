# syntax=docker/dockerfile:1
#
# Cloister admission webhook (cloister webhook serve).
#   docker build -f deploy/docker/webhook.Dockerfile -t ghcr.io/cloister/webhook:0.1.0 .
# Build context = the repository root. The image name is yours to choose: `cloister install --registry R --tag T`
# (or --image webhook=REF) renders manifests that pull it. ghcr.io/cloister is a placeholder registry.
#
# Base images are pinned by version through build arguments; pin them by digest in your release pipeline
# (`docker buildx imagetools inspect <image>` prints it; no registry was reachable where this file was written):
#   --build-arg BUILD_IMAGE=node:20.20.2-bookworm-slim@sha256:… --build-arg RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot@sha256:…
# Everything else comes from the npm registry through package-lock.json (npm ci); no other binaries are downloaded.
ARG BUILD_IMAGE=node:20.20.2-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot

# ---- build: compile the TypeScript workspaces, then keep only production dependencies -------------------------
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
ENV NODE_ENV=development \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
COPY package.json package-lock.json tsconfig.base.json ./
COPY scripts/ scripts/
COPY bench/ bench/
COPY packages/ packages/
# --ignore-scripts: the root `prepare` script would build before it is wanted; the build runs explicitly next.
RUN npm ci --ignore-scripts \
 && npm run build \
 && npm prune --omit=dev --ignore-scripts \
 && rm -rf packages/*/test packages/*/dist/test bench

# ---- runtime: distroless Node.js 20: no shell, no package manager ------------------------------------------------
FROM ${RUNTIME_IMAGE}
WORKDIR /opt/cloister
ENV NODE_ENV=production
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/packages ./packages
# Non-root (65532) and nothing written at run time: the rendered Deployment sets readOnlyRootFilesystem: true and
# mounts the serving certificate from a Secret (reloaded in place when the Secret changes).
USER 65532:65532
EXPOSE 8443 9320
ENTRYPOINT ["/nodejs/bin/node", "packages/cli/dist/src/bin.js"]
CMD ["webhook", "serve"]
