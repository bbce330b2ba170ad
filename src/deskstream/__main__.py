from deskstream.cli import main

main()
