# syntax=docker/dockerfile:1
#
# Cloister node agent (SGX device plugin for kubelet).
#   docker build -f deploy/docker/node-agent.Dockerfile -t ghcr.io/cloister/node-agent:0.1.0 .
# (build context = repository root; the registry name is a placeholder, push wherever your cluster pulls from)
#
# Everything comes from the npm registry through package-lock.json (npm ci); no other binaries are downloaded.

# ---- build: compile the TypeScript workspaces, then keep only production dependencies -------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /src
ENV NODE_ENV=development \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# Manifests first, so the dependency layer is cached while only sources change.
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages/testkit/package.json packages/testkit/
COPY packages/dcap/package.json packages/dcap/
COPY packages/sgx-sim/package.json packages/sgx-sim/
COPY packages/node-agent/package.json packages/node-agent/
COPY packages/cli/package.json packages/cli/
# --ignore-scripts: the root `prepare` script would build before the sources are copied.
RUN npm ci --ignore-scripts

COPY scripts/ scripts/
COPY bench/ bench/
COPY packages/ packages/
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts \
 && rm -rf packages/*/test packages/*/dist/test bench

# ---- runtime: distroless Node.js 20, no shell, no package manager ------------------------------------------------
FROM gcr.io/distroless/nodejs20-debian12:nonroot
WORKDIR /opt/cloister
ENV NODE_ENV=production
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/packages ./packages

# The image itself runs as the distroless "nonroot" user (65532) so `docker run` experiments are unprivileged.
# The DaemonSet (deploy/node-agent/daemonset.yaml) overrides this with runAsUser: 0, because kubelet's
# /var/lib/kubelet/device-plugins directory is owned by root (mode 0750/0755) and the agent must create its
# sockets there; it keeps no capabilities (drop ALL), so uid 0 has only the owner's permission bits.
USER 65532:65532
EXPOSE 9310
# A 1 MiB young generation: the agent allocates little, and this keeps its idle RSS near 62 MB instead of 67 MB
# (bench/device-plugin measures the agent with the same flag).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=1", "packages/cli/dist/src/bin.js"]
CMD ["node-agent"]
