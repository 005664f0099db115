# One image for every service: `heph up`, or one of `heph ingest | analyzer | healer | console` given as
# the command (deploy/compose.yaml runs each apart). Node 24 runs the TypeScript directly.
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY schemas/package.json schemas/
COPY platform/package.json platform/
COPY aggregates/package.json aggregates/
COPY services/ingest/package.json services/ingest/
COPY services/analyzer/package.json services/analyzer/
COPY services/healer/package.json services/healer/
COPY services/console/package.json services/console/
COPY sdk/agent/package.json sdk/agent/
COPY cli/package.json cli/
RUN npm ci --omit=dev --no-audit --no-fund
COPY schemas schemas
COPY platform platform
COPY aggregates aggregates
COPY services services
COPY sdk sdk
COPY cli cli
COPY config config
COPY playbooks playbooks
USER node
ENTRYPOINT ["node", "cli/src/main.ts"]
CMD ["up"]
