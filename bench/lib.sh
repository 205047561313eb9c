# What the write-back bench scripts share; sourced (`. bench/lib.sh`) from the repository root.

# Builds the binary in $PROFILE (release unless said) and sets $profile and $bin.
build_jiralink() {
  profile=${PROFILE:-release}
  if [ "$profile" = release ]; then
    cargo build --release -q -p jiralink
  else
    cargo build -q -p jiralink
  fi
  bin=${CARGO_TARGET_DIR:-$PWD/target}/$profile/jiralink
}

# A field (email, secret, username) of the simulator's admin identity, from $work/sim.json.
field() { python3 -c "import json; d=json.loads(open('$work/sim.json').readline()); print([x for x in d['identities'] if x['name']=='admin'][0]['$1'])"; }

# Writes N records (new issues in PROJECT, one comment each) to $work/records.jsonl.
write_records() {
  python3 - "$1" "$2" > "$work/records.jsonl" <<'PY'
import json, sys
n, project = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    print(json.dumps({"external_id": f"bench-{i}", "project": project, "issue_type": "Task",
        "summary": f"Bench record {i}", "description": f"Record {i} of the benchmark.",
        "comments": [{"external_id": "c1", "body": f"The comment of record {i}."}]}))
PY
}
