from batchops.cli import main

main()
