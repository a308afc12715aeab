"""Command-line plumbing: the ``rome`` dispatcher (:mod:`rome.cli.main`, which imports each
command's module only when that command runs) and the command lines' default folders
(:mod:`rome.cli.paths`, the one place they are decided). Neither imports the science."""
