from voxlake.cli import run

run()
