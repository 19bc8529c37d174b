"""Benchmark orchestration: spec -> jobs (command lines in hashed folders) -> executors -> collected results."""
