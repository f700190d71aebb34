#!/usr/bin/env bash
# Vendor the GraphiQL page's JS/CSS so the app serves them itself (no CDN at run time).
#
# Reads strawberry's own GraphiQL page (strawberry/static/graphiql.html from the
# installed strawberry-graphql), and for every unpkg.com asset it loads:
#   1. `npm pack <pkg>@<version>` into a temp dir (the npm client checks the
#      tarball against the registry's integrity),
#   2. extracts exactly the file the page uses,
#   3. checks it against the page's SRI `integrity` hash (fails loudly if not),
#   4. writes it to backend/static/graphiql/<pkg-dir>/<version>/<path-in-package>,
#      where <pkg-dir> is the npm name with a scope flattened the way `npm pack`
#      names tarballs (`@graphiql/plugin-explorer` -> `graphiql-plugin-explorer`),
#      so that no static URL needs an `@`.
# Then it regenerates the Django template override
# backend/templates/graphql/graphiql.html: strawberry's page with every unpkg URL
# replaced by `{% static '...' %}`, integrity attributes kept.
#
# Idempotent: a file already in place whose hash matches is left alone (no
# network needed); pass --force to download everything again.
#
# Usage: scripts/vendor_graphiql.sh [--force]
#   PYTHON=/path/to/python      interpreter that has strawberry installed (default .venv/bin/python)
#   STRAWBERRY_GRAPHIQL_HTML=…  use this page instead of the installed strawberry's
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATIC_DIR="$ROOT/backend/static/graphiql"
TEMPLATE="$ROOT/backend/templates/graphql/graphiql.html"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
FORCE=0

for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        -h | --help)
            sed -n '2,24p' "$0"
            exit 0
            ;;
        *)
            echo "unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done

die() {
    echo "vendor_graphiql: ERROR: $*" >&2
    exit 1
}

command -v npm >/dev/null || die "npm not found"
command -v openssl >/dev/null || die "openssl not found"
[[ -x "$PYTHON" ]] || PYTHON="$(command -v python3)" || die "no python found"

if [[ -z "${STRAWBERRY_GRAPHIQL_HTML:-}" ]]; then
    STRAWBERRY_GRAPHIQL_HTML="$("$PYTHON" -c \
        'import pathlib, strawberry; print(pathlib.Path(strawberry.__file__).parent / "static" / "graphiql.html")')" ||
        die "cannot import strawberry with $PYTHON (set PYTHON or STRAWBERRY_GRAPHIQL_HTML)"
fi
[[ -f "$STRAWBERRY_GRAPHIQL_HTML" ]] || die "not found: $STRAWBERRY_GRAPHIQL_HTML"
echo "source page: $STRAWBERRY_GRAPHIQL_HTML"

# One line per asset: "<url> <integrity>". Fails on any external script/stylesheet
# that is not an unpkg URL with an integrity hash, so a strawberry upgrade that
# changes CDN or drops SRI is noticed instead of silently left on a CDN.
ASSETS="$("$PYTHON" - "$STRAWBERRY_GRAPHIQL_HTML" <<'PY'
import sys
from html.parser import HTMLParser


class Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        url = a.get("src") if tag == "script" else a.get("href") if tag == "link" else None
        if not url or not url.startswith(("http://", "https://", "//")):
            return
        if not url.startswith("https://unpkg.com/"):
            self.errors.append(f"non-unpkg asset URL: {url}")
        elif not a.get("integrity"):
            self.errors.append(f"asset without integrity hash: {url}")
        else:
            self.found.append((url, a["integrity"] or ""))


p = Assets()
p.feed(open(sys.argv[1], encoding="utf-8").read())
if p.errors:
    sys.exit("\n".join(p.errors))
if not p.found:
    sys.exit("no unpkg assets found in the page")
for url, integrity in p.found:
    print(url, integrity)
PY
)" || die "could not read assets from $STRAWBERRY_GRAPHIQL_HTML"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# sri_matches FILE "alg-b64 [alg-b64 ...]": true if any listed hash matches FILE.
sri_matches() {
    local file="$1" entry alg want got
    for entry in $2; do
        alg="${entry%%-*}"
        want="${entry#*-}"
        want="${want%%\?*}" # SRI allows "?options" after the digest
        case "$alg" in sha256 | sha384 | sha512) ;; *) continue ;; esac
        got="$(openssl dgst "-$alg" -binary "$file" | openssl base64 -A)"
        [[ "$got" == "$want" ]] && return 0
    done
    return 1
}

declare -a SED_ARGS=()
n=0
while read -r url integrity; do
    n=$((n + 1))
    spec="${url#https://unpkg.com/}" # e.g. @graphiql/plugin-explorer@1.0.2/dist/style.css
    if [[ "$spec" == @* ]]; then
        scope="${spec%%/*}"
        rest="${spec#*/}"
        pkg_version="${rest%%/*}"
        pkg="$scope/${pkg_version%@*}"
        path="${rest#*/}"
    else
        pkg_version="${spec%%/*}"
        pkg="${pkg_version%@*}"
        path="${spec#*/}"
    fi
    version="${pkg_version##*@}"
    [[ -n "$pkg" && -n "$version" && -n "$path" && "$pkg_version" == *@* ]] ||
        die "cannot parse package/version/path from $url (unpinned version?)"
    [[ "$path" != *..* ]] || die "suspicious path in $url"

    pkg_dir="${pkg#@}"
    pkg_dir="${pkg_dir//\//-}"
    rel="graphiql/$pkg_dir/$version/$path" # path under STATIC_URL
    dest="$STATIC_DIR/$pkg_dir/$version/$path"

    if [[ $FORCE -eq 0 && -f "$dest" ]] && sri_matches "$dest" "$integrity"; then
        echo "ok       $pkg@$version/$path (already vendored, hash matches)"
    else
        work="$TMP/$n"
        mkdir -p "$work/x"
        (cd "$work" && npm pack "$pkg@$version" --silent >/dev/null) || die "npm pack $pkg@$version failed"
        tgz=("$work"/*.tgz)
        [[ ${#tgz[@]} -eq 1 && -f "${tgz[0]}" ]] || die "npm pack $pkg@$version produced no single tarball"
        tar -xzf "${tgz[0]}" -C "$work/x" "package/$path" || die "$path not in $pkg@$version tarball"
        sri_matches "$work/x/package/$path" "$integrity" ||
            die "integrity MISMATCH for $pkg@$version/$path: page wants $integrity, got sha384-$(openssl dgst -sha384 -binary "$work/x/package/$path" | openssl base64 -A)"
        mkdir -p "$(dirname "$dest")"
        cp "$work/x/package/$path" "$dest.tmp"
        chmod 644 "$dest.tmp"
        mv "$dest.tmp" "$dest"
        echo "vendored $pkg@$version/$path -> ${dest#"$ROOT"/}"
    fi
    # Escape for use in a sed replacement / pattern ('|' delimiter).
    url_re="$(printf '%s' "$url" | sed 's/[.[\*^$|]/\\&/g')"
    SED_ARGS+=(-e "s|\"$url_re\"|\"{% static '$rel' %}\"|g")
done <<<"$ASSETS"

# --- the Django template override -------------------------------------------
# Strawberry's page must not contain Django template syntax of its own, or the
# copy would render differently from the original.
if grep -qE '\{\{|\{%|\{#' "$STRAWBERRY_GRAPHIQL_HTML"; then
    die "strawberry's page contains Django template syntax ({{ {% {#); wrap it in {% verbatim %} by hand"
fi
mkdir -p "$(dirname "$TEMPLATE")"
{
    echo "{% load static %}{# Generated by scripts/vendor_graphiql.sh from strawberry's static/graphiql.html; do not edit. #}"
    sed "${SED_ARGS[@]}" "$STRAWBERRY_GRAPHIQL_HTML"
} >"$TEMPLATE.tmp"
if grep -nE 'https?://(unpkg\.com|cdn\.jsdelivr\.net|cdnjs\.cloudflare\.com|esm\.sh|fonts\.googleapis\.com)' "$TEMPLATE.tmp"; then
    rm -f "$TEMPLATE.tmp"
    die "template still references a CDN (lines above)"
fi
mv "$TEMPLATE.tmp" "$TEMPLATE"
echo "template ${TEMPLATE#"$ROOT"/} written ($n assets)"
