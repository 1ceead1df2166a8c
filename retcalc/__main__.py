from retcalc.cli.entry import main

main()
