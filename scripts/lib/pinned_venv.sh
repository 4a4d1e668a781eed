# Sourced by the setup scripts that install pinned Python packages into a
# venv in the tool cache, outside the clone.
#
#   pinned_venv NAME REQUIREMENTS
#
# Leaves ${QUARRY_TOOL_CACHE:-$HOME/.cache/quarry}/NAME holding exactly the
# pins of REQUIREMENTS and prints its path. Idempotent: a marker in the venv
# holds the hash of REQUIREMENTS, this file and the calling script; while it
# matches nothing is installed, and any change recreates the venv from
# scratch (pip's cache keeps the downloads). Progress goes to stderr.
pinned_venv() {
    local name="$1" requirements="$2"
    local cache="${QUARRY_TOOL_CACHE:-$HOME/.cache/quarry}"
    local venv="$cache/$name" python="${QUARRY_PYTHON:-python3}"
    local marker="$venv/.quarry-requirements-hash" hash
    hash="$(cat "$requirements" "${BASH_SOURCE[0]}" "$0" | sha256sum | cut -d' ' -f1)"
    if [[ ! -f "$marker" || "$(cat "$marker")" != "$hash" || ! -x "$venv/bin/python" ]]; then
        echo "$(basename "$0"): installing $(basename "$requirements")'s pins into $venv" >&2
        rm -rf "$venv"
        mkdir -p "$cache"
        "$python" -m venv "$venv" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
        "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off \
            -r "$requirements" >&2
        echo "$hash" >"$marker"
    fi
    echo "$venv"
}
