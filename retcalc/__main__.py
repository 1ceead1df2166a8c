from retcalc.cli.app import main

main()
