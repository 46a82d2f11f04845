#!/usr/bin/env bash
# The videos in docs/videos: one short run of each task family, then `dynadapt video` on its last checkpoint.
# Run from the repository root with the virtual environment's bin/ on PATH (`make docs-videos`). The runs
# are short (minutes each on a laptop CPU; the run directories go to $OUT, not into the repository), so
# the agents are partly trained: the videos show the families, the tasks and what the tools print.
set -euo pipefail
OUT=${OUT:-build/docs-videos}
DOCS=docs/videos
SIZE=240x180
mkdir -p "$OUT" "$DOCS"

# film RUN NAME [video options]: task 0 of the run's last checkpoint as docs/videos/NAME.mp4 (and .gif)
film() {
    local run=$1 name=$2
    shift 2
    rm -rf "${OUT:?}/$run/docs"
    dynadapt video "$OUT/$run" --task 0 --size "$SIZE" --out "$OUT/$run/docs" "$@"
    for file in "$OUT/$run/docs"/last_task0.*; do
        cp "$file" "$DOCS/$name.${file##*.}"
    done
}

# run NAME PRESET [overrides]: a new run directory $OUT/NAME (a finished one is kept)
run() {
    local name=$1
    shift
    if [ ! -f "$OUT/$name/summary.json" ]; then
        rm -rf "${OUT:?}/$name"
        dynadapt run "$@" --out "$OUT/$name" --quiet
    fi
}

# PETS (kind mbrl) on the pendulum: swing-up after a few episodes
run pendulum pets-pendulum episodes=5 eval.episodes=1
film pendulum pendulum

# HyperCRL (kind continual) on two cart-pole tasks: task 0 right after it was learned (left) and after
# the second task (right), from the same start state
run cartpole demo-hypercrl task.tasks=2
film cartpole cartpole

# PETS on the reacher (longer links than the default)
run reacher pets-reacher episodes=4 eval.every=0 task.env_params.link0_length=0.13 \
    task.env_params.link1_length=0.13
film reacher reacher

# PETS on the half-cheetah with HyperCRL's big-torso body
run half_cheetah_body pets-half_cheetah_body episodes=3 eval.every=0 task.episode_steps=150 \
    task.env_params.torso_scale=1.25
film half_cheetah_body half_cheetah_body

# GrBAL (kind meta) on the crippled half-cheetah: the front shin is crippled in the middle of the
# episode (marked on the frames), and the model adapts online
run half_cheetah_cripple grbal-half_cheetah_cripple iterations=3 episodes_per_iter=2 \
    task.episode_steps=150 task.switch_at=75 eval.episodes=1 \
    'task.test_tasks=[{"crippled_joint": "none"}, {"crippled_joint": "fshin"}]'
film half_cheetah_cripple half_cheetah_cripple --gif

# PETS on the ant with leg 0 crippled (drawn red and shrunk)
run ant_cripple pets-ant_cripple episodes=3 eval.every=0 task.episode_steps=150 \
    task.env_params.crippled_leg=0
film ant_cripple ant_cripple

# PETS on the pusher, slippery left half of the table
run pusher pets-pusher episodes=4 eval.every=0 task.env_params.friction_left=0.2
film pusher pusher

# PETS on the door with a round knob
run door pets-door episodes=3 eval.every=0 task.env_params.handle=round
film door door

# PETS on GrBAL's gentle ramps (half_cheetah_hfield): the ground rises under the cheetah along the track
run half_cheetah_hfield pets-half_cheetah_hfield episodes=3 eval.every=0 task.episode_steps=150 \
    task.env_params.terrain=gentle
film half_cheetah_hfield half_cheetah_hfield

# PETS on the pier (half_cheetah_pier): floating blocks, the first two undamped, the next two damped
run half_cheetah_pier pets-half_cheetah_pier episodes=3 eval.every=0 task.episode_steps=150 \
    'task.env_params={"damping_0": 0, "damping_1": 0, "damping_2": 30, "damping_3": 30}'
film half_cheetah_pier half_cheetah_pier

# The robosuite extra's Panda families, in that extra's environment (`make test-robosuite` builds it)
RS_BIN=${RS_BIN:-build/venv-robosuite/bin}
(
    export PATH="$RS_BIN:$PATH"
    # PETS pushing the two-density block (light left half)
    run panda_pusher pets-panda_pusher episodes=3 eval.every=0 planner.population=100 \
        'task.env_params={"density_left": 100, "density_right": 500}'
    film panda_pusher panda_pusher
    # PETS at the lever door (short episodes)
    run panda_door pets-panda_door episodes=3 eval.every=0 planner.population=100 task.episode_steps=100 \
        task.env_params.handle=lever
    film panda_door panda_door
)

ls -l "$DOCS"
