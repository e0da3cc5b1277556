from cinemesh.cli.main import app

app(prog_name="cinemesh")
