# Loupe gateway image: build stage compiles TypeScript and the HMI, runtime
# stage carries production dependencies, the bundled model and ffmpeg.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json vite.config.ts* ./
COPY gateway gateway
COPY hmi hmi
COPY bench bench
COPY scripts scripts
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# ffmpeg for RTSP / MJPEG / V4L2 cameras.
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/hmi/dist hmi/dist
COPY package.json ./
COPY config config
COPY models/demo-part models/demo-part
RUN mkdir -p /var/lib/loupe && chown node:node /var/lib/loupe
USER node
ENV NODE_ENV=production \
    LOUPE__GATEWAY__DATA_DIR=/var/lib/loupe \
    LOUPE__HTTP__HOST=0.0.0.0 \
    LOUPE__LOG__PRETTY=never
VOLUME /var/lib/loupe
# HMI/API; Loupe's OPC UA server (serves the network once plc.server.host is 0.0.0.0 in your config: the
# embedded demo keeps it, and its simulated PLC, on loopback inside the container).
EXPOSE 8080 4841
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
  CMD node -e "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# tini forwards SIGTERM so parts in flight finish and the store closes cleanly.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/gateway/src/main.js"]
CMD ["run"]
