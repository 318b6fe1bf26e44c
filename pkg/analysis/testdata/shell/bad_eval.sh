# want: sh.dynamic.eval
cmd="ls -l"
eval "$cmd"
