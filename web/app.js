// The example web client: hash routes, each a view rendered from one or two GraphQL operations.
import { Client } from "./api.js";

const endpoint = new URLSearchParams(location.search).get("api") || new URL("/graphql", location.href).href;
const api = new Client(endpoint);
const view = document.getElementById("view");
const errorBox = document.getElementById("error");

const CARD = "id title year posterUrl(size: W342)";
const HOME = `query Home {
  trendingMovies(timeWindow: WEEK) { results { ${CARD} } }
  popularMovies(page: 1) { results { ${CARD} } }
}`;
const SEARCH = `query Search($query: String!) { searchMovies(query: $query) { totalResults results { ${CARD} } } }`;
const MOVIE = `query Movie($id: Int!) {
  movie(id: $id) {
    id title year tagline overview runtime voteAverage posterUrl(size: W500)
    genres { id name }
    similar(limit: 6) { ${CARD} }
    isFavorite inWatchlist myRating
  }
}`;
const RECOMMENDATIONS = `query Recommendations {
  recommendations(limit: 12) { score reasons movie { ${CARD} genres { name } } }
}`;
const LISTS = `query Lists {
  me {
    favorites(limit: 50) { totalCount results { id movie { ${CARD} } } }
    watchlist(limit: 50) { totalCount results { id movie { ${CARD} } } }
    ratings(limit: 50) { totalCount results { id score movie { ${CARD} } } }
  }
}`;
const SESSION = "token refreshToken expiresIn user { id username }";
const REGISTER = `mutation Register($input: RegisterInput!) { register(input: $input) { ${SESSION} } }`;
const SIGN_IN = `mutation SignIn($username: String!, $password: String!) {
  tokenAuth(username: $username, password: $password) { ${SESSION} }
}`;
const TOGGLES = {
  favorite: ["mutation($id: Int!) { addFavorite(movieId: $id) { id } }", "mutation($id: Int!) { removeFavorite(movieId: $id) }"],
  watchlist: ["mutation($id: Int!) { addToWatchlist(movieId: $id) { id } }", "mutation($id: Int!) { removeFromWatchlist(movieId: $id) }"],
};
const RATE = "mutation($id: Int!, $score: Float!) { rateMovie(movieId: $id, score: $score) { score } }";
const UNRATE = "mutation($id: Int!) { deleteRating(movieId: $id) }";

// Elements from data only through textContent and attributes: nothing the API sends is parsed as HTML.
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return element;
}

function poster(movie) {
  return movie.posterUrl
    ? h("img", { class: "poster", src: movie.posterUrl, alt: movie.title, loading: "lazy" })
    : h("div", { class: "poster", role: "img", "aria-label": movie.title }, movie.title);
}

function card(movie) {
  const year = movie.year ? ` (${movie.year})` : "";
  return h("li", { class: "card", "data-movie-id": movie.id },
    h("a", { href: `#/movie/${movie.id}` }, poster(movie), h("p", { class: "title" }, movie.title + year)));
}

function grid(movies, name) {
  return h("ul", { class: "grid", "data-list": name }, movies.map(card));
}

function showError(error) {
  errorBox.textContent = error.message || String(error);
  errorBox.hidden = false;
}

async function home() {
  const data = await api.request(HOME);
  return [
    h("h2", {}, "Trending this week"), grid(data.trendingMovies.results, "trending"),
    h("h2", {}, "Popular"), grid(data.popularMovies.results, "popular"),
  ];
}

async function search(params) {
  const query = params.get("q") || "";
  const data = await api.request(SEARCH, { query });
  return [h("h2", {}, `${data.searchMovies.totalResults} results for “${query}”`), grid(data.searchMovies.results, "search")];
}

function toggle(movie, kind, active, labels) {
  const button = h("button", { type: "button", "data-action": kind, "aria-pressed": String(active) }, active ? labels[1] : labels[0]);
  button.addEventListener("click", async () => {
    button.disabled = true;
    const pressed = button.getAttribute("aria-pressed") === "true";
    await api.request(TOGGLES[kind][pressed ? 1 : 0], { id: movie.id });
    button.setAttribute("aria-pressed", String(!pressed));
    button.textContent = pressed ? labels[0] : labels[1];
    button.disabled = false;
  });
  return button;
}

function rating(movie) {
  const select = h("select", { "data-action": "rate", "aria-label": "Your rating" },
    h("option", { value: "" }, "Rate…"),
    [5, 4.5, 4, 3.5, 3, 2.5, 2, 1.5, 1, 0.5].map((score) =>
      h("option", { value: score, selected: movie.myRating === score }, `${score} ★`)));
  select.addEventListener("change", async () => {
    if (select.value) await api.request(RATE, { id: movie.id, score: Number(select.value) });
    else await api.request(UNRATE, { id: movie.id });
  });
  return select;
}

async function moviePage(id) {
  const { movie } = await api.request(MOVIE, { id: Number(id) });
  if (!movie) return [h("h2", {}, "No such movie.")];
  const actions = api.user
    ? h("div", { class: "actions" },
        toggle(movie, "favorite", movie.isFavorite, ["♡ Add to favorites", "♥ In favorites"]),
        toggle(movie, "watchlist", movie.inWatchlist, ["+ Watchlist", "✓ On watchlist"]),
        rating(movie))
    : h("p", {}, h("a", { href: "#/signin" }, "Sign in"), " to keep favorites, a watchlist and ratings.");
  const facts = [movie.year, movie.runtime && `${movie.runtime} min`, movie.voteAverage && `★ ${movie.voteAverage}/10`]
    .filter(Boolean).join(" · ");
  return [
    h("article", { class: "movie", "data-movie-id": movie.id },
      poster(movie),
      h("div", {},
        h("h2", {}, movie.title),
        movie.tagline && h("p", {}, h("em", {}, movie.tagline)),
        h("p", {}, facts),
        h("p", {}, movie.genres.map((genre) => genre.name).join(", ")),
        h("p", {}, movie.overview || ""),
        actions)),
    h("h2", {}, "Similar"), grid(movie.similar, "similar"),
  ];
}

async function recommendations() {
  if (!api.user) return [h("p", {}, h("a", { href: "#/signin" }, "Sign in"), " to get recommendations.")];
  const data = await api.request(RECOMMENDATIONS);
  return [
    h("h2", {}, "Recommended for you"),
    h("ol", { class: "recommendations", "data-list": "recommendations" }, data.recommendations.map((item) =>
      h("li", { "data-movie-id": item.movie.id },
        h("a", { href: `#/movie/${item.movie.id}` }, poster(item.movie)),
        h("div", {},
          h("a", { href: `#/movie/${item.movie.id}`, class: "title" }, item.movie.title),
          h("p", {}, item.movie.genres.map((genre) => genre.name).join(", ")),
          h("ul", { class: "reasons" }, item.reasons.map((reason) => h("li", { class: "reason" }, reason))))))),
  ];
}

async function lists() {
  if (!api.user) return [h("p", {}, h("a", { href: "#/signin" }, "Sign in"), " to see your lists.")];
  const { me } = await api.request(LISTS);
  const section = (title, page, name) => [
    h("h2", {}, `${title} (${page.totalCount})`),
    grid(page.results.map((row) => row.movie), name),
  ];
  return [...section("Favorites", me.favorites, "favorites"), ...section("Watchlist", me.watchlist, "watchlist"),
    ...section("Ratings", me.ratings, "ratings")];
}

function accountForm(kind) {
  const signUp = kind === "signup";
  const form = h("form", { class: "account", "data-form": kind },
    h("h2", {}, signUp ? "Sign up" : "Sign in"),
    h("label", {}, signUp ? "Username" : "Username or email", h("input", { name: "username", required: true, autocomplete: "username" })),
    signUp && h("label", {}, "Email", h("input", { name: "email", type: "email", required: true, autocomplete: "email" })),
    h("label", {}, "Password", h("input", { name: "password", type: "password", required: true, autocomplete: signUp ? "new-password" : "current-password" })),
    h("button", { type: "submit" }, signUp ? "Create account" : "Sign in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(form));
    try {
      const data = signUp ? await api.request(REGISTER, { input: fields }) : await api.request(SIGN_IN, fields);
      api.signIn(signUp ? data.register : data.tokenAuth);
      location.hash = "#/";
    } catch (error) {
      showError(error);
    }
  });
  return [form];
}

const routes = [
  [/^#?\/?$/, home],
  [/^#\/search$/, (_, params) => search(params)],
  [/^#\/movie\/(\d+)$/, (match) => moviePage(match[1])],
  [/^#\/recommendations$/, recommendations],
  [/^#\/lists$/, lists],
  [/^#\/(signin|signup)$/, (match) => accountForm(match[1])],
];

async function render() {
  const [path, query = ""] = location.hash.split("?");
  errorBox.hidden = true;
  for (const [pattern, page] of routes) {
    const match = (path || "#/").match(pattern);
    if (!match) continue;
    view.setAttribute("aria-busy", "true");
    try {
      view.replaceChildren(...(await page(match, new URLSearchParams(query))));
      view.dataset.route = path || "#/";
    } catch (error) {
      showError(error);
    } finally {
      view.removeAttribute("aria-busy");
    }
    return;
  }
  view.replaceChildren(h("h2", {}, "Not found."));
}

function showSession(user) {
  document.querySelectorAll("[data-signed-in]").forEach((element) => { element.hidden = !user; });
  document.querySelectorAll("[data-signed-out]").forEach((element) => { element.hidden = Boolean(user); });
  document.getElementById("whoami").textContent = user ? `Signed in as ${user.username}` : "";
}

api.onSessionChange(showSession);
document.getElementById("signout").addEventListener("click", async () => {
  await api.signOut();
  location.hash = "#/";
});
document.getElementById("search").addEventListener("submit", (event) => {
  event.preventDefault();
  location.hash = `#/search?${new URLSearchParams({ q: new FormData(event.target).get("q") })}`;
});
window.addEventListener("hashchange", render);
window.addEventListener("unhandledrejection", (event) => showError(event.reason));
showSession(null);
render();
