# vetted: Verdaccio 6.8 with the vetted plugins, verifying every version before serving it.
FROM node:20-bookworm-slim

# bubblewrap + strace run the behaviour layer's sandbox; git fetches and packs sources.
RUN apt-get update \
  && apt-get install -y --no-install-recommends bubblewrap strace git ca-certificates python3 make g++ util-linux \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/vetted

# Dependencies first, so source edits do not invalidate the npm ci layer.
COPY package.json package-lock.json ./
RUN npm ci

COPY . .
RUN npm run build

# The sandbox uses unprivileged user namespaces, which bwrap refuses to set up as root.
RUN mkdir -p /data && chown node:node /data
USER node

ENV VETTED_HOME=/data
VOLUME ["/data"]
EXPOSE 4873

CMD ["node", "bin/vetted.js", "serve", "--listen", "0.0.0.0:4873", "--home", "/data"]
