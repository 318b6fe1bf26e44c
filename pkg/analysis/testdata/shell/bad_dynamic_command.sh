# want: sh.dynamic.command
c=ev
${c}al true
