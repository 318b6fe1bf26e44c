# want:
import pathlib
src = pathlib.Path("/workspace/input.txt")
out = pathlib.Path("/output/result.txt")
out.write_text(src.read_text() if src.exists() else "")
open("/tmp/scratch", "w").close()
