# Holdfast container image. Build: docker build -t holdfast .  (or docker compose up --build)
# The config file is not baked in: mount it at /etc/holdfast/holdfast.yaml. Redis is external
# (HOLDFAST_REDIS_URL); the image has no redis-server, so the embedded Redis mode is not available.

# --- build: compile TypeScript to dist/ ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies, dist/, bin/, config/ ---
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY config ./config
# The node image's unprivileged user (uid 1000); the app files stay root-owned and read-only to it.
USER node
EXPOSE 2525
ENTRYPOINT ["node", "bin/holdfast.js"]
CMD ["start", "--config", "/etc/holdfast/holdfast.yaml"]
