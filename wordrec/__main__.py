from wordrec.cli import main

main()
