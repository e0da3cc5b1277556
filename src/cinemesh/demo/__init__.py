"""Demo content, kept outside the services: the demo catalog and MovieLens imports
(`seeding`), demo videos drawn with ffmpeg (`videos`) and their upload to the encoder
(`upload`), and simulated members who use the platform through its public API after hidden
tastes (`simulation`, `tastes`; `cinemesh simulate`). The CLI (`cinemesh up`'s first run,
`cinemesh seed`, `cinemesh ingest`'s upload body) and the benchmarks use it; it reaches encoder code only through
`cinemesh.services.encoder.public`, and sits below the CLI and the bench suite and above the
runner (`make contracts` checks both)."""
