import sys

if len(sys.argv) == 3 and sys.argv[1] == "serve" and not sys.argv[2].startswith("-"):
    # A service process imports its own service and the chassis, not every command of the CLI
    # (the recommender's scipy, the bench suite, the demo): about a second of CPU less for each
    # of the processes `cinemesh up` starts.
    from cinemesh.platform.serve import serve

    serve(sys.argv[2])
else:
    from cinemesh.cli.main import app

    app(prog_name="cinemesh")
