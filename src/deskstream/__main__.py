from deskstream.entry import main

main()
