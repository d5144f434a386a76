from findhash.cli import main

main()
