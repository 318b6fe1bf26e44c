"""Build a directory tree in /tmp, copy, rename and walk it, then remove it."""
import os
import pathlib
import shutil
import tempfile

root = pathlib.Path(tempfile.mkdtemp(prefix="tree-", dir="/tmp"))
for d in ("a", "a/b", "c"):
    (root / d).mkdir(parents=True, exist_ok=True)
for i, d in enumerate(("a", "a/b", "c")):
    (root / d / f"f{i}.txt").write_text("x" * (i + 1) * 100)
shutil.copytree(root / "a", root / "copy")
os.rename(root / "c" / "f2.txt", root / "c" / "moved.txt")
sizes = {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}
print(sizes)
shutil.rmtree(root)
print("removed:", not root.exists())
