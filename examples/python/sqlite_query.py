"""Load rows into SQLite (a database file in /tmp) and run a report query."""
import os
import sqlite3
import tempfile

path = os.path.join(tempfile.mkdtemp(dir="/tmp"), "sales.db")
con = sqlite3.connect(path)
con.execute("create table sales (region text, amount integer)")
con.executemany("insert into sales values (?, ?)", [("north", 10), ("south", 7), ("north", 5), ("east", 2)])
con.commit()
for region, total in con.execute("select region, sum(amount) from sales group by region order by 2 desc"):
    print(region, total)
con.close()
mem = sqlite3.connect(":memory:")
print("sqlite", mem.execute("select sqlite_version()").fetchone()[0] > "3")
