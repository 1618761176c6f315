"""A random agent in the default world, driven from Python over the env protocol.

    python3 examples/agent-env/random_agent.py [--episodes 3] [--steps 40] [--seed 1]

Prints one line per episode (return, length, how it ended) and the mean frame brightness
of the last observation, to show the frames arrive.
"""
import argparse
import random
import time

from worldcast_env import Client


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=3)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with Client(model=args.model) as client:
        env = client.make(options={
            "actionType": "discrete",
            "maxEpisodeSteps": args.steps,
            "reward": [{"type": "goalTask", "center": [0, -8], "radius": 1.5}],
        })
        n_actions = env.action_space["n"]
        t0 = time.time()
        steps = 0
        for ep in range(args.episodes):
            obs, info = env.reset(seed=args.seed + ep)
            ret, done, length = 0.0, False, 0
            while not done:
                obs, reward, terminated, truncated, info = env.step(rng.randrange(n_actions))
                ret += reward
                length += 1
                done = terminated or truncated
            steps += length
            pixels = obs.flat()
            brightness = sum(pixels[i] for i in range(0, len(pixels), 97)) / len(range(0, len(pixels), 97))
            end = "reached the goal" if terminated else "time limit"
            pose = info["pose"]
            print(f"episode {ep}: return {ret:.2f} over {length} steps ({end}); final pose x={pose['x']:.2f} z={pose['z']:.2f}; "
                  f"frame {obs.shape} mean brightness {brightness:.0f}", flush=True)
        print(f"{steps / (time.time() - t0):.1f} env steps/s from Python")
        env.close()


if __name__ == "__main__":
    main()
