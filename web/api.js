// A small GraphQL client for the Movie Graph API, in the conventions the server speaks:
// GraphQL over HTTP (graphql-response+json), Apollo's automatic persisted queries over GET
// for anonymous reads (cacheable by the browser and a CDN), and JWT sessions kept in memory
// only, refreshed with rotation before they expire and once more on UNAUTHENTICATED.

const ACCEPT = "application/graphql-response+json, application/json;q=0.9";
// Refresh this long before the access token expires.
const REFRESH_MARGIN_SECONDS = 30;

const SESSION_FIELDS = "token refreshToken expiresIn user { id username }";
const REFRESH = `mutation Refresh($refreshToken: String!) {
  refreshToken(refreshToken: $refreshToken) { ${SESSION_FIELDS} }
}`;
const REVOKE = "mutation Revoke($refreshToken: String!) { revokeToken(refreshToken: $refreshToken) }";

export class ApiError extends Error {
  constructor(errors) {
    super(errors.map((error) => error.message).join(" "));
    this.errors = errors;
    this.code = errors[0]?.extensions?.code;
  }
}

function codes(body) {
  return (body.errors || []).map((error) => error.extensions?.code);
}

async function sha256(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export class Client {
  constructor(endpoint) {
    this.endpoint = endpoint;
    this.session = null; // {token, refreshToken, user}: memory only, never localStorage
    this.refreshing = null;
    this.timer = null;
    this.listeners = new Set();
  }

  onSessionChange(listener) {
    this.listeners.add(listener);
  }

  get user() {
    return this.session?.user ?? null;
  }

  // Keeps the pair an AuthPayload carries (register, tokenAuth, refreshToken, changePassword).
  signIn(payload) {
    clearTimeout(this.timer);
    this.session = { token: payload.token, refreshToken: payload.refreshToken, user: payload.user };
    const wait = Math.max(payload.expiresIn - REFRESH_MARGIN_SECONDS, 5) * 1000;
    this.timer = setTimeout(() => this.refresh(), wait);
    this.listeners.forEach((listener) => listener(this.user));
  }

  async signOut() {
    const session = this.session;
    this.forget();
    if (session) {
      await this.send({ query: REVOKE, variables: { refreshToken: session.refreshToken } }).catch(() => null);
    }
  }

  forget() {
    clearTimeout(this.timer);
    this.session = null;
    this.listeners.forEach((listener) => listener(null));
  }

  // One refresh at a time: the refresh token is single-use, a second one would count as theft.
  refresh() {
    if (!this.session) return Promise.resolve(false);
    this.refreshing ??= (async () => {
      try {
        const body = await this.send({ query: REFRESH, variables: { refreshToken: this.session.refreshToken } });
        if (body.errors?.length || !body.data) {
          this.forget();
          return false;
        }
        this.signIn(body.data.refreshToken);
        return true;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  async send({ query, variables, extensions }, { method = "POST", token } = {}) {
    const headers = { Accept: ACCEPT };
    if (token) headers.Authorization = `JWT ${token}`;
    let url = this.endpoint;
    const init = { method, headers };
    if (method === "GET") {
      const params = new URLSearchParams({ variables: JSON.stringify(variables || {}), extensions: JSON.stringify(extensions) });
      if (query) params.set("query", query);
      url = `${this.endpoint}?${params}`;
    } else {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify({ query, variables, extensions });
    }
    const response = await fetch(url, init);
    // Every answer of this API is JSON, request errors included.
    return response.json();
  }

  // An anonymous read as a persisted query over GET: the hash alone first, then hash and
  // query together when the server answers PersistedQueryNotFound (Apollo's protocol).
  async persisted(query, variables) {
    if (!globalThis.crypto?.subtle) return this.send({ query, variables });
    const extensions = { persistedQuery: { version: 1, sha256Hash: await sha256(query) } };
    const body = await this.send({ variables, extensions }, { method: "GET" });
    if (!codes(body).includes("PERSISTED_QUERY_NOT_FOUND")) return body;
    return this.send({ query, variables, extensions });
  }

  // Runs an operation; throws ApiError with the errors when there are any.
  async request(query, variables = {}) {
    const mutation = /^\s*mutation\b/.test(query);
    let body;
    if (!this.session && !mutation) {
      body = await this.persisted(query, variables);
    } else {
      body = await this.send({ query, variables }, { token: this.session?.token });
      if (this.session && codes(body).includes("UNAUTHENTICATED") && (await this.refresh())) {
        body = await this.send({ query, variables }, { token: this.session.token });
      }
    }
    if (body.errors?.length) throw new ApiError(body.errors);
    return body.data;
  }
}
